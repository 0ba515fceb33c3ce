package report

import "strings"

// Table is a Markdown table under construction. Columns are right-aligned
// (numbers) except the first, or as Align says ('l' or 'r' per column).
type Table struct {
	Head  []string
	Rows  [][]string
	Align string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// String renders the table, a newline after each line.
func (t *Table) String() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.Head, " | ") + " |\n|")
	for i := range t.Head {
		left := i == 0
		if i < len(t.Align) {
			left = t.Align[i] == 'l'
		}
		if left {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}
