// Package ui is wiretop's terminal interface, built on Bubble Tea. The root Model owns a
// monitor.State, applies each sampler Sample to it, lays out the panes (bandwidth charts,
// TCP states, processes), keeps the focus and routes keys; each pane lives in its own file
// with its keys and help. Update and View never block: samples arrive as messages, and View
// only formats what is already computed.
package ui
