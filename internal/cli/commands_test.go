package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestMainDispatches(t *testing.T) {
	var ran []string
	cmds := []Command{
		{Name: "ok", Summary: "succeeds", Run: func(args []string, _, _ io.Writer) error {
			ran = append(ran, "ok "+strings.Join(args, " "))
			return nil
		}},
		{Name: "fail", Summary: "fails", Run: func([]string, io.Writer, io.Writer) error { return errors.New("boom") }},
		{Name: "help", Summary: "asks for help", Run: func([]string, io.Writer, io.Writer) error { return flag.ErrHelp }},
	}
	for _, c := range []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"ok", "a", "b"}, 0, ""},
		{[]string{"fail"}, 1, "prog fail: boom\n"},
		{nil, 2, "Usage: prog <command>"},
		{[]string{"nope"}, 2, `prog: unknown command "nope"`},
		{[]string{"--help"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main("prog", "intro", cmds, c.args, &stdout, &stderr); code != c.code {
			t.Errorf("%q: exit %d, want %d", c.args, code, c.code)
		}
		if !strings.Contains(stderr.String(), c.wantStderr) {
			t.Errorf("%q: stderr %q lacks %q", c.args, stderr.String(), c.wantStderr)
		}
	}
	if len(ran) != 1 || ran[0] != "ok a b" {
		t.Fatalf("ran %q", ran)
	}
}
