package sampler

import (
	"strings"
	"testing"
)

func TestParseCgroup(t *testing.T) {
	for _, tt := range []struct{ name, file, want string }{
		{"v2", "0::/system.slice/nginx.service\n", "/system.slice/nginx.service"},
		{"hybrid: the unified line", "9:name=systemd:/\n4:memory:/process_api/x\n0::/user.slice/user-1000.slice/session-2.scope\n", "/user.slice/user-1000.slice/session-2.scope"},
		{"hybrid at the root: name=systemd", "9:name=systemd:/docker/0123456789abcdef\n4:memory:/docker/0123456789abcdef\n0::/\n", "/docker/0123456789abcdef"},
		{"v1 only", "4:memory:/docker/0123456789abcdef\n3:cpu:/docker/0123456789abcdef\n", "/docker/0123456789abcdef"},
		{"root everywhere", "0::/\n", ""},
	} {
		if got := parseCgroup(strings.NewReader(tt.file)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestContainerOf(t *testing.T) {
	const id = "4f0c3d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
	for _, tt := range []struct{ path, container, unit string }{
		{"/system.slice/docker-" + id + ".scope", "docker:4f0c3d9e8b7a", ""},
		{"/docker/" + id, "docker:4f0c3d9e8b7a", ""},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_5678.slice/cri-containerd-" + id + ".scope", "containerd:4f0c3d9e8b7a", ""},
		{"/kubepods/burstable/pod1234-5678/" + id, "containerd:4f0c3d9e8b7a", ""},
		{"/machine.slice/libpod-" + id + ".scope/container", "podman:4f0c3d9e8b7a", ""},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope", "podman:4f0c3d9e8b7a", "user@1000.service"},
		{"/machine.slice/libpod-conmon-" + id + ".scope", "", ""},
		{"/system.slice/crio-" + id + ".scope", "crio:4f0c3d9e8b7a", ""},
		{"/lxc.payload.web1", "lxc:web1", ""},
		{"/system.slice/nginx.service", "", "nginx.service"},
		{"/user.slice/user-1000.slice/session-2.scope", "", "session-2.scope"},
		{"/system.slice/docker-notanid.scope", "", "docker-notanid.scope"},
		{"", "", ""},
	} {
		c, u := containerOf(tt.path)
		if c != tt.container || u != tt.unit {
			t.Errorf("%s: container %q unit %q, want %q %q", tt.path, c, u, tt.container, tt.unit)
		}
	}
}
