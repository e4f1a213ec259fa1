package sampler

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A process's container and systemd unit come from its cgroup path (/proc/PID/cgroup):
// container runtimes and systemd name the cgroups they make after what runs in them.

// readCgroup returns the cgroup path of pid from procRoot/PID/cgroup ("" when it cannot be
// read: the process is gone).
func readCgroup(procRoot string, pid int) string {
	f, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseCgroup(f)
}

// parseCgroup returns the path of the cgroup v2 hierarchy ("0::/path") of a /proc/PID/cgroup
// file, or on a host with only v1 hierarchies the path of the name=systemd one, else of the
// first one (cgroups(7)).
func parseCgroup(r io.Reader) string {
	var v1, systemd string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrl, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctrl == "":
			if path != "/" {
				return path
			}
		case ctrl == "name=systemd":
			systemd = path
		case v1 == "":
			v1 = path
		}
	}
	if systemd != "" && systemd != "/" {
		return systemd
	}
	if v1 != "/" {
		return v1
	}
	return ""
}

// containerRuntimes are the prefixes that container runtimes give the cgroup (or systemd
// scope) of a container, and the name wiretop shows the runtime by.
var containerRuntimes = []struct{ prefix, name string }{
	{"docker-", "docker"},             // docker with the systemd cgroup driver: docker-ID.scope
	{"cri-containerd-", "containerd"}, // containerd (Kubernetes) with the systemd driver
	{"crio-", "crio"},                 // CRI-O
	{"libpod-", "podman"},             // podman: libpod-ID.scope (libpod-conmon-ID is its monitor)
	{"containerd-", "containerd"},     // containerd without Kubernetes
	{"lxc.payload.", "lxc"},           // LXC: lxc.payload.NAME
}

// containerOf returns the container ("runtime:ID", the ID cut to 12 characters as docker
// shows it) and the systemd unit (the innermost *.service, else *.scope, that is not a
// container's) of a cgroup path; "" for what the path does not say.
func containerOf(path string) (container, unit string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0 && container == ""; i-- {
		p := parts[i]
		base := strings.TrimSuffix(p, ".scope")
		for _, rt := range containerRuntimes {
			if !strings.HasPrefix(base, rt.prefix) {
				continue
			}
			id := strings.TrimPrefix(base, rt.prefix)
			if rt.name == "podman" && strings.HasPrefix(id, "conmon-") {
				break
			}
			if rt.name != "lxc" && !isHexID(id) {
				break
			}
			container = rt.name + ":" + short(id)
			break
		}
		if container != "" || !isHexID(p) || i == 0 {
			continue
		}
		// the cgroupfs driver: /docker/ID, /kubepods/.../podUID/ID, /machine.slice/.../ID
		switch parent := parts[i-1]; {
		case parent == "docker":
			container = "docker:" + short(p)
		case strings.HasPrefix(parts[0], "kubepods") || strings.HasPrefix(parent, "pod"):
			container = "containerd:" + short(p)
		case parent == "libpod_parent" || strings.HasPrefix(parent, "libpod-"):
			container = "podman:" + short(p)
		}
	}
	var scope string
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if strings.HasSuffix(p, ".service") {
			return container, p
		}
		if scope == "" && strings.HasSuffix(p, ".scope") && !isContainerScope(p) {
			scope = p
		}
	}
	return container, scope
}

// isContainerScope reports whether a scope is a container's (or its monitor's).
func isContainerScope(p string) bool {
	base := strings.TrimSuffix(p, ".scope")
	for _, rt := range containerRuntimes {
		if id, ok := strings.CutPrefix(base, rt.prefix); ok {
			return isHexID(strings.TrimPrefix(id, "conmon-"))
		}
	}
	return false
}

// isHexID reports whether s looks like a container ID: at least 12 hex digits.
func isHexID(s string) bool {
	if len(s) < 12 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// readNetNS returns the inode of the network namespace of the process whose /proc directory
// is dir, from the ns/net link ("net:[4026531840]"); 0 when it cannot be read.
func readNetNS(dir string) uint32 {
	l, err := os.Readlink(filepath.Join(dir, "ns", "net"))
	if err != nil {
		return 0
	}
	l = strings.TrimSuffix(strings.TrimPrefix(l, "net:["), "]")
	n, err := strconv.ParseUint(l, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// cgroupNames caches the container and unit of cgroup v2 ids (at most 4096 of them).
type cgroupNames struct {
	root string
	m    map[uint64][2]string
}

// of returns the container and unit of cgroup id, reading /proc/PID/cgroup of pid (a process
// in it) the first time.
func (c *cgroupNames) of(id uint64, pid int) (container, unit string) {
	if v, ok := c.m[id]; ok {
		return v[0], v[1]
	}
	container, unit = containerOf(readCgroup(c.root, pid))
	if len(c.m) < 4096 {
		c.m[id] = [2]string{container, unit}
	}
	return container, unit
}
