package tui

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/sample"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The golden size.
const goldenWidth, goldenHeight = 120, 40

var (
	sampleOnce sync.Once
	sampleSnap *snapshot.Snapshot
	sampleErr  error
)

// sampleSnapshot is the embedded demo cluster (built once; read-only).
func sampleSnapshot(t testing.TB) *snapshot.Snapshot {
	t.Helper()
	sampleOnce.Do(func() { sampleSnap, sampleErr = sample.Snapshot() })
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return sampleSnap
}

// asciiRenderer draws without colour or emphasis, as on a terminal without colour.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

// harness runs a Model the way bubbletea does: commands run in goroutines and their
// messages come back through a channel, which until() drains into Update.
type harness struct {
	t    testing.TB
	m    *Model
	msgs chan tea.Msg
	quit bool
}

func newHarness(t testing.TB, b Backend) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := New(ctx, b, Config{Renderer: asciiRenderer(), PlanDir: "demo-plan", LivePoll: 20 * time.Millisecond})
	h := &harness{t: t, m: m, msgs: make(chan tea.Msg, 4096)}
	h.send(tea.WindowSizeMsg{Width: goldenWidth, Height: goldenHeight})
	h.exec(m.Init())
	h.settle()
	return h
}

func (h *harness) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			h.msgs <- msg
		}
	}()
}

// send delivers one message as the program would.
func (h *harness) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			h.exec(c)
		}
		return
	case tea.QuitMsg:
		h.quit = true
		return
	}
	_, cmd := h.m.Update(msg)
	h.exec(cmd)
}

// key sends keys by name ("enter", "ctrl+c", "space", ...) or as typed text.
func (h *harness) key(keys ...string) {
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyMsg {
	named := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "ctrl+c": tea.KeyCtrlC, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"up": tea.KeyUp, "down": tea.KeyDown, "pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp, "ctrl+u": tea.KeyCtrlU,
		"backspace": tea.KeyBackspace, "left": tea.KeyLeft, "right": tea.KeyRight, "home": tea.KeyHome, "end": tea.KeyEnd,
	}
	if t, ok := named[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	if k == "space" {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// until delivers messages until cond holds.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.m.View())
		}
	}
}

// settle waits until no plan or simulation is in flight.
func (h *harness) settle() {
	h.t.Helper()
	h.until("the plan and its simulation", func() bool { return !h.m.d.planning && !h.m.d.simulating && h.m.d.plan != nil })
}

// golden compares the view with testdata/<name>.golden (-update rewrites it) and checks
// it fills the terminal exactly.
func golden(t *testing.T, name, view string) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != goldenHeight {
		t.Errorf("%s: %d lines, want %d", name, len(lines), goldenHeight)
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > goldenWidth {
			t.Errorf("%s: line %d is %d cells wide: %q", name, i+1, w, l)
		}
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(view), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -run %s -update)", err, t.Name())
	}
	if string(want) != view {
		t.Errorf("%s differs from %s (go test ./tui -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, view, want)
	}
}
