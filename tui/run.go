package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/karpshift/karpshift/migrate/plan"
)

// Options configure Run.
type Options struct {
	// In and Out are the terminal (default os.Stdin, os.Stdout).
	In  io.Reader
	Out io.Writer
	// LogFile receives the program's log (appended) while it owns the terminal; "" discards.
	LogFile string
	// NoColor turns colour and emphasis off. Without it, colour follows the terminal
	// (none when it has none, or NO_COLOR is set).
	NoColor bool
	// PlanDir is the directory the write and export prompts offer first.
	PlanDir string
	// PlanOptions are the first plan's options (default translate.DefaultOptions()).
	PlanOptions *plan.Options
}

// stopTimeout bounds how long Run waits, when the program ends during a cutover, for
// the cancelled cutover to return (it releases its lock on the way out).
const stopTimeout = 30 * time.Second

// Run runs the TUI over b until the user quits or ctx ends. A cutover still running
// then is cancelled, and Run waits for it to stop.
func Run(ctx context.Context, b Backend, o Options) error {
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.LogFile != "" {
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("opening the log file: %w", err)
		}
		defer f.Close()
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := lipgloss.NewRenderer(o.Out)
	if o.NoColor {
		r.SetColorProfile(termenv.Ascii)
	}
	m := New(ctx, b, Config{Renderer: r, Logger: logger, PlanDir: o.PlanDir, PlanOptions: o.PlanOptions})
	p := tea.NewProgram(m, tea.WithInput(o.In), tea.WithOutput(o.Out), tea.WithAltScreen(), tea.WithContext(ctx))
	logger.Info("tui started", "cluster", b.Snapshot().Cluster.Name)
	_, err := p.Run()
	if c := m.cut.ctl; c != nil && m.cut.running() {
		logger.Warn("the program ended during a cutover: cancelling it")
		c.Cancel()
		c.Close()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if !c.wait(wctx) {
			logger.Error("the cutover did not stop in time", "timeout", stopTimeout)
		}
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		err = ctx.Err()
	}
	logger.Info("tui stopped", "err", err)
	return err
}
