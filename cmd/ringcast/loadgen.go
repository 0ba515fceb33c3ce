package main

import (
	"errors"
	"io"
)

// runLoadgen is a placeholder until its package lands.
func runLoadgen(args []string, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
