package history

import (
	"fmt"
	"time"
)

// Kind is a bucket size, as vnstat's: 5 minutes, hour, day, month, year.
type Kind int

// The bucket kinds; their values are stored in the traffic, tcp and kernel tables.
const (
	FiveMin Kind = 1 + iota
	Hour
	Day
	Month
	Year
)

// Kinds lists the bucket kinds from the smallest.
var Kinds = []Kind{FiveMin, Hour, Day, Month, Year}

func (k Kind) String() string {
	switch k {
	case FiveMin:
		return "5min"
	case Hour:
		return "hour"
	case Day:
		return "day"
	case Month:
		return "month"
	case Year:
		return "year"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Start returns the start of the bucket of kind k that holds t: 5 minutes and hours on
// the clock, days, months and years from midnight in loc.
func (k Kind) Start(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	switch k {
	case FiveMin:
		return t.Truncate(5 * time.Minute)
	case Hour:
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
	case Day:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	default:
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, loc)
	}
}

// Next returns the start of the bucket after the one that starts at start.
func (k Kind) Next(start time.Time) time.Time {
	switch k {
	case FiveMin:
		return start.Add(5 * time.Minute)
	case Hour:
		return k.Start(start.Add(90*time.Minute), start.Location()) // DST-safe
	case Day:
		return start.AddDate(0, 0, 1)
	case Month:
		return start.AddDate(0, 1, 0)
	default:
		return start.AddDate(1, 0, 0)
	}
}
