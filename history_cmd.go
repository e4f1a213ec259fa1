package main

import (
	"context"
	"errors"
	"io"
)

// HistoryConfig is what `wiretop history` is asked for.
type HistoryConfig struct {
	DB string // --db
}

// parseHistoryArgs reads the flags of `wiretop history`.
func parseHistoryArgs(args []string, stderr io.Writer) (HistoryConfig, error) {
	return HistoryConfig{}, errors.New("history: the history database is not part of this build yet")
}

// runHistory prints the report cfg.History asks for.
func runHistory(ctx context.Context, cfg Config, stdout io.Writer) error {
	return errors.New("history: the history database is not part of this build yet")
}
