// Package tui is karpshift's terminal UI: a bubbletea program over the same library the
// CLI uses. It walks through five screens — inventory, plan review, simulation, cutover,
// summary — and talks to a Backend, so it does not care whether the data comes from a
// live cluster, a saved snapshot or the demo sandbox.
//
// Layout: backend.go is the Backend the TUI talks to and offline.go the one over a
// snapshot (SnapshotBackend); control.go is how the UI steers a running cutover
// (confirmations, pause, resume, abort); run.go is Run. model.go is the root model that
// routes keys and messages to the screen in front (one file per screen: inventory.go,
// planview.go, simulate.go, summary.go, and cutover.go with cutover_progress.go and
// cutover_view.go) over the shared data.go; dialogs.go holds the yes/no dialog and the
// directory prompt; messages.go the message types; keys.go the key bindings shown with
// bubbles/help; styles.go the lipgloss styles, built from one renderer so colour can be
// switched off; text.go table layout. Long work (planning, simulating, writing files,
// the cutover) runs in tea.Cmds; cutover events arrive over a channel through a wait
// command that re-arms itself (bubbletea's examples/realtime).
//
// tui may import inventory, migrate, render and the Charm libraries. It must not import
// cobra, cmd, or cloud SDK / Kubernetes clients: whoever builds a Backend wires those.
// It never writes to os.Stdout or os.Stderr; Run logs to a file while the program owns
// the terminal.
package tui
