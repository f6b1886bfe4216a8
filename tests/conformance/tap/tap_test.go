package tap

import (
	"bytes"
	"testing"
)

func TestOutput(t *testing.T) {
	var b bytes.Buffer
	tp := New()
	tp.Writer = &b
	tp.Header(0)
	tp.Ok(true, "first")
	tp.Fail("has a # sign\nand a newline")
	tp.Todo().Fail("not yet")
	tp.Pass("")
	tp.Skip(2, "no apparmor")
	tp.Diagnostic("one\ntwo")
	tp.Diagnosticf("%d%%", 5)
	if err := tp.YAML(map[string]interface{}{
		"error":  "exit status 1",
		"stderr": "line 1\n\nline 3\n",
		"n":      uint32(7),
		"list":   []interface{}{"a", map[string]string{"k": "v", "w": "x y"}},
		"yes":    "no",
		"nested": map[string]interface{}{"empty": map[string]string{}, "s": "a: b"},
		"none":   nil,
	}); err != nil {
		t.Fatal(err)
	}
	if got := tp.Count(); got != 6 {
		t.Errorf("Count() = %d, want 6", got)
	}
	tp.AutoPlan()
	want := `TAP version 13
ok 1 - first
not ok 2 - has a \# sign and a newline
not ok 3 - not yet # TODO
ok 4
ok 5 # SKIP no apparmor
ok 6 # SKIP no apparmor
# one
# two
# 5%
  ---
  error: exit status 1
  list:
    - a
    - k: v
      w: x y
  "n": 7
  nested:
    empty: {}
    s: "a: b"
  none: null
  stderr: |
    line 1

    line 3
  "yes": "no"
  ...
1..6
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestHeaderPlan(t *testing.T) {
	var b bytes.Buffer
	tp := &T{Writer: &b} // the zero value works too
	tp.Header(2)
	tp.Ok(false, "x")
	if want := "TAP version 13\n1..2\nnot ok 1 - x\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestLiteralChomping(t *testing.T) {
	for in, want := range map[string][]string{
		"a\nb":     {"|-", "  a", "  b"},
		"a\nb\n":   {"|", "  a", "  b"},
		"a\nb\n\n": {"|+", "  a", "  b", ""},
	} {
		got, ok := literal(in)
		if !ok || len(got) != len(want) {
			t.Errorf("literal(%q) = %q, %v", in, got, ok)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("literal(%q) = %q, want %q", in, got, want)
				break
			}
		}
	}
	for _, in := range []string{"one line", " lead\nx", "a\r\nb", "a\x1b\nb"} {
		if got, ok := literal(in); ok {
			t.Errorf("literal(%q) = %q, want no literal", in, got)
		}
	}
}
