package web

import "strings"

// diffLine is one line of a line diff: Op is ' ' (kept), '-' (removed) or '+' (added).
type diffLine struct {
	Op   byte
	Text string
	Old  int // the line's number in the old file (0 for an added line)
	New  int // the line's number in the new file (0 for a removed line)
}

// Class is the CSS class of the line.
func (d diffLine) Class() string {
	switch d.Op {
	case '+':
		return "add"
	case '-':
		return "del"
	}
	return ""
}

// maxDiffCells bounds the work of a diff (lines of one × lines of the other); larger files show the
// change rules' findings only.
const maxDiffCells = 4 << 20

// diffContext is how many unchanged lines are kept around a change.
const diffContext = 3

// lineDiff gives the changed lines between a and b with a few lines of context (nil when the files are
// the same), by the longest common subsequence of their lines; ok is false when the files are too
// large for it.
func lineDiff(a, b string) ([]diffLine, bool) {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// Common head and tail cost nothing and shrink the table.
	head := 0
	for head < len(x) && head < len(y) && x[head] == y[head] {
		head++
	}
	tail := 0
	for tail < len(x)-head && tail < len(y)-head && x[len(x)-1-tail] == y[len(y)-1-tail] {
		tail++
	}
	xm, ym := x[head:len(x)-tail], y[head:len(y)-tail]
	if len(xm) == 0 && len(ym) == 0 {
		return nil, true
	}
	if (len(xm)+1)*(len(ym)+1) > maxDiffCells {
		return nil, false
	}
	n, m := len(xm), len(ym)
	// lcs[i][j] is the length of the LCS of xm[i:] and ym[j:], in one slice.
	lcs := make([]int32, (n+1)*(m+1))
	at := func(i, j int) int32 { return lcs[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			v := at(i+1, j)
			if xm[i] == ym[j] {
				v = at(i+1, j+1) + 1
			} else if w := at(i, j+1); w > v {
				v = w
			}
			lcs[i*(m+1)+j] = v
		}
	}
	var all []diffLine
	for i := range head {
		all = append(all, diffLine{Op: ' ', Text: x[i], Old: i + 1, New: i + 1})
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && xm[i] == ym[j]:
			all = append(all, diffLine{Op: ' ', Text: xm[i], Old: head + i + 1, New: head + j + 1})
			i++
			j++
		case i < n && (j == m || at(i+1, j) >= at(i, j+1)):
			// removals before additions, as diff(1) shows a changed line
			all = append(all, diffLine{Op: '-', Text: xm[i], Old: head + i + 1})
			i++
		default:
			all = append(all, diffLine{Op: '+', Text: ym[j], New: head + j + 1})
			j++
		}
	}
	for k := range tail {
		all = append(all, diffLine{Op: ' ', Text: x[len(x)-tail+k], Old: len(x) - tail + k + 1, New: len(y) - tail + k + 1})
	}
	// Keep the changes and diffContext lines around each; a gap is marked by a line with Op '…'.
	keep := make([]bool, len(all))
	for k, l := range all {
		if l.Op != ' ' {
			for c := max(0, k-diffContext); c <= min(len(all)-1, k+diffContext); c++ {
				keep[c] = true
			}
		}
	}
	var out []diffLine
	for k, l := range all {
		if keep[k] {
			out = append(out, l)
		} else if len(out) == 0 || out[len(out)-1].Op != '~' {
			out = append(out, diffLine{Op: '~'})
		}
	}
	if len(out) > 0 && out[len(out)-1].Op == '~' {
		out = out[:len(out)-1]
	}
	return out, true
}
