// Package tap writes Test Anything Protocol (TAP version 13) output.
//
// It is veil's own small stand-in for github.com/mndrix/tap-go, which the
// OCI runtime-tools validation suite imports but Debian does not package.
// tests/conformance/run.sh installs this file under that import path. It
// offers only what the suite's call sites need: New, Header, Ok, Pass, Fail,
// Skip, Todo, Count, AutoPlan, Diagnostic, Diagnosticf and YAML, plus the
// exported TODO and Writer fields of the original type.
//
// Output conventions (what run.sh's verdict parser relies on):
//   - test lines are "ok N - description" / "not ok N - description",
//     on one line, with '#' in descriptions escaped as "\#";
//   - skips are "ok N # SKIP reason", todos "not ok N - description # TODO";
//   - a YAML block is written between "  ---" and "  ...", its top-level
//     keys indented by exactly two spaces; anything nested, including the
//     lines of multi-line strings (literal "|" scalars), is indented deeper.
package tap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// T is a TAP producer. Copies made by Todo share its test counter.
type T struct {
	// TODO marks the assertions of this T as "# TODO" (expected to fail).
	TODO bool
	// Writer receives the output; nil means os.Stdout.
	Writer io.Writer

	shared *state
}

type state struct {
	mu   sync.Mutex
	last int // number of the last assertion written
}

// New returns a producer writing to os.Stdout.
func New() *T {
	return &T{Writer: os.Stdout, shared: &state{}}
}

func (t *T) st() *state {
	if t.shared == nil { // a zero T still works
		t.shared = &state{}
	}
	return t.shared
}

func (t *T) write(s string) {
	w := t.Writer
	if w == nil {
		w = os.Stdout
	}
	_, _ = io.WriteString(w, s)
}

// Header writes the version line and, if testCount > 0, the plan.
func (t *T) Header(testCount int) {
	s := t.st()
	s.mu.Lock()
	defer s.mu.Unlock()
	t.write("TAP version 13\n")
	if testCount > 0 {
		t.write(fmt.Sprintf("1..%d\n", testCount))
	}
}

// oneLine makes a description safe for a test line.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\\", "\\\\", "#", "\\#").Replace(s)
	return strings.TrimSpace(s)
}

// Ok writes one assertion: "ok" if test is true, "not ok" otherwise.
func (t *T) Ok(test bool, description string) {
	s := t.st()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	line := "ok"
	if !test {
		line = "not ok"
	}
	line += " " + strconv.Itoa(s.last)
	if d := oneLine(description); d != "" {
		line += " - " + d
	}
	if t.TODO {
		line += " # TODO"
	}
	t.write(line + "\n")
}

// Pass writes a passing assertion.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail writes a failing assertion.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip writes count skipped assertions, each with the given reason.
func (t *T) Skip(count int, description string) {
	s := t.st()
	s.mu.Lock()
	defer s.mu.Unlock()
	reason := oneLine(description)
	for i := 0; i < count; i++ {
		s.last++
		line := "ok " + strconv.Itoa(s.last) + " # SKIP"
		if reason != "" {
			line += " " + reason
		}
		t.write(line + "\n")
	}
}

// Todo returns a producer sharing t's counter whose assertions are TODO.
func (t *T) Todo() *T {
	return &T{TODO: true, Writer: t.Writer, shared: t.st()}
}

// Count returns how many assertions have been written so far.
func (t *T) Count() int {
	s := t.st()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// AutoPlan writes the plan "1..N", N being the assertions written so far.
func (t *T) AutoPlan() {
	t.write(fmt.Sprintf("1..%d\n", t.Count()))
}

// Diagnostic writes message as comment lines.
func (t *T) Diagnostic(message string) {
	s := t.st()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		b.WriteString(strings.TrimRight("# "+strings.TrimRight(l, "\r"), " "))
		b.WriteString("\n")
	}
	t.write(b.String())
}

// Diagnosticf is Diagnostic with fmt.Sprintf formatting.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML writes message as a YAML block. The value is first reduced to plain
// data through encoding/json (so struct fields get their JSON names), then
// written in YAML block style. An error means nothing was written.
func (t *T) YAML(message interface{}) error {
	raw, err := json.Marshal(message)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("  ---\n")
	for _, l := range yamlNode(v) {
		if l != "" { // blank lines (inside literal blocks) stay empty
			b.WriteString("  " + l)
		}
		b.WriteString("\n")
	}
	b.WriteString("  ...\n")
	s := t.st()
	s.mu.Lock()
	defer s.mu.Unlock()
	t.write(b.String())
	return nil
}

// yamlNode renders v as block YAML lines, relative to column 0.
func yamlNode(v interface{}) []string {
	switch x := v.(type) {
	case map[string]interface{}:
		if len(x) == 0 {
			return []string{"{}"}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, yamlEntry(yamlKey(k)+":", x[k])...)
		}
		return out
	case []interface{}:
		if len(x) == 0 {
			return []string{"[]"}
		}
		var out []string
		for _, item := range x {
			out = append(out, yamlEntry("-", item)...)
		}
		return out
	default:
		return yamlScalar(v)
	}
}

// yamlEntry renders "key: value" or "- value": scalars go on the lead
// line (a literal block starts there), non-empty collections below it;
// a collection in a list item starts on the item's line.
func yamlEntry(lead string, v interface{}) []string {
	sub := yamlNode(v)
	nested := false
	switch x := v.(type) {
	case map[string]interface{}:
		nested = len(x) > 0
	case []interface{}:
		nested = len(x) > 0
	}
	switch {
	case nested && lead == "-":
		return append([]string{"- " + sub[0]}, indent(sub[1:])...)
	case nested:
		return append([]string{lead}, indent(sub)...)
	default:
		return append([]string{lead + " " + sub[0]}, sub[1:]...)
	}
}

// indent shifts lines two columns right, leaving blank lines empty.
func indent(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if l != "" {
			l = "  " + l
		}
		out[i] = l
	}
	return out
}

var (
	plainRe    = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./()-]*( [A-Za-z0-9_./()-]+)*$`)
	plainKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	reserved   = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true,
		"off": true, "true": true, "false": true, "null": true}
)

func yamlKey(k string) string {
	if plainKeyRe.MatchString(k) && !reserved[strings.ToLower(k)] {
		return k
	}
	return strconv.Quote(k)
}

// yamlScalar renders a scalar: one line, or for a multi-line printable
// string a literal block: "|" and the text lines, indented by two spaces.
func yamlScalar(v interface{}) []string {
	switch x := v.(type) {
	case nil:
		return []string{"null"}
	case bool:
		return []string{strconv.FormatBool(x)}
	case json.Number:
		return []string{x.String()}
	case string:
		if plainRe.MatchString(x) && !reserved[strings.ToLower(x)] {
			return []string{x}
		}
		if lines, ok := literal(x); ok {
			return lines
		}
		return []string{strconv.Quote(x)}
	default:
		return []string{strconv.Quote(fmt.Sprint(x))}
	}
}

// literal renders s as a YAML literal block scalar if that is exact.
func literal(s string) ([]string, bool) {
	if !strings.Contains(strings.TrimRight(s, "\n"), "\n") {
		return nil, false
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && !unicode.IsPrint(r) && r != ' ' {
			return nil, false
		}
	}
	body := strings.TrimRight(s, "\n")
	lines := strings.Split(body, "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		// the first text line sets the block's indentation: it must not
		// start with white space (that would need an indentation indicator)
		if l[0] == ' ' || l[0] == '\t' {
			return nil, false
		}
		break
	}
	header := "|"
	switch trailing := len(s) - len(body); {
	case trailing == 0:
		header = "|-"
	case trailing > 1:
		header = "|+"
	}
	out := append([]string{header}, indent(lines)...)
	for i := 1; i < len(s)-len(body); i++ { // the extra blank lines "|+" keeps
		out = append(out, "")
	}
	return out, true
}
