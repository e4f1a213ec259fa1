// Package ui is wiretop's terminal interface, built on Bubble Tea.
//
// The root Model (model.go) owns a monitor.State: it applies each sampler Sample and each
// capture Batch to it, lays the panes out (layout.go), keeps the focus, and routes keys and
// mouse events; the header, status line, footer and help screen are in chrome.go. Each pane
// lives in its own file with its keys and help: bandwidth.go (rx/tx charts like nload),
// states.go (the TCP state histogram and kernel counters), processes.go (per-process
// traffic like nethogs), talkers.go (host pairs and flows like iftop) and packets.go (the
// packet view like tcpdump, whose details, packetdetail.go, decode the selected packet's
// layers with gopacket as a Wireshark tree lists them, above a hex dump). The talkers and
// packets panes exist only when capture is on.
//
// Update and View never block: samples and batches arrive as messages; calls to the capture,
// reverse lookups and writes of the preferences file (prefs.go) run in commands; View only
// formats what Update computed, and tables format only the rows in sight. Styles are built
// once (styles.go) from colours that adapt to light and dark terminals, and kept as the escape
// sequences that open and close them, so that a table cell costs two concatenations;
// lipgloss drops the colours when NO_COLOR is set.
package ui
