package sampler

// stdio reports whether the process holds the socket inode ino as its standard input or
// output (fd 0 or 1), from the cached links of its fds: a shell whose stdin or stdout is
// a TCP connection is what a reverse shell looks like (detect's reverse_shell rule).
func (p *pidFDs) stdio(ino uint64) bool {
	if ino == 0 {
		return false
	}
	return p.fds["0"].inode == ino || p.fds["1"].inode == ino
}
