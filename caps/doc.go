// Package caps drops the Linux capabilities that wiretop no longer needs once its sources
// are open, as tcpdump -Z gives up root after opening the capture: the capture handle, the
// BPF programs and the netlink sockets are file descriptors that keep working without the
// capabilities that opened them. What stays is what the run still uses (reading other
// users' /proc/PID/fd for process attribution), on every thread of the process and in the
// bounding set, so that nothing it executes later (an alert hook) gets the rest back.
package caps
