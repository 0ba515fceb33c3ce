package main

import (
	"errors"
	"io"
)

// runServe is a placeholder until its package lands.
func runServe(args []string, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
