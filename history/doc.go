// Package history keeps wiretop's persistent history in one SQLite file (modernc.org/sqlite,
// pure Go, WAL mode): traffic per interface, process identity, remote host and local
// service port in vnstat's bucket kinds (5 minutes, hour, day, month, year, and the top
// days), TCP state counts, the kernel's TCP counters, gaps and alerts.
//
// One process writes at a time: the writer holds an exclusive flock on the database file
// for as long as it is open, and Open returns ErrWriterActive to a second would-be writer,
// which then opens the file read-only (OpenReadOnly). Each interval is written in one
// transaction into the 5-minute rows; when a 5-minute bucket closes it is trimmed to the
// top N keys per category (the rest in one "(other)" row, so totals still add up) and
// rolled up into the hour, day, month and year rows. Readers fold the 5-minute rows not
// yet rolled up into what they return, so a report always includes the running bucket.
package history
