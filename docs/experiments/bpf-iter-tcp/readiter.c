// readiter PATH [N]      : read the pinned iterator fully N times, report mean ms, bytes, rusage
// readiter PATH dump     : decode records to text (one per line)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <sys/resource.h>

struct rec {
	uint64_t cookie, inode, bytes_acked, bytes_received;
	uint8_t laddr[16], raddr[16];
	uint32_t uid;
	uint16_t lport, rport;
	uint8_t state, family, full, pad[5];
};
_Static_assert(sizeof(struct rec) == 80, "rec size");

static char *buf; static size_t cap = 64 << 20;

static ssize_t readall(const char *p) {
	int fd = open(p, O_RDONLY);
	if (fd < 0) { perror("open"); exit(1); }
	size_t n = 0; ssize_t r;
	while ((r = read(fd, buf + n, cap - n)) > 0) { n += r; if (n == cap) { fprintf(stderr, "buffer full\n"); exit(1); } }
	if (r < 0) { perror("read"); exit(1); }
	close(fd);
	return n;
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static double tv(struct timeval t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; }
static const char *st[] = {"?", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV"};

int main(int argc, char **argv) {
	if (argc < 2) { fprintf(stderr, "usage\n"); return 2; }
	buf = malloc(cap);
	if (argc > 2 && !strcmp(argv[2], "dump")) {
		ssize_t n = readall(argv[1]);
		for (size_t i = 0; i + sizeof(struct rec) <= (size_t)n; i += sizeof(struct rec)) {
			struct rec *r = (void *)(buf + i);
			char l[64], rr[64];
			inet_ntop(r->family, r->laddr, l, sizeof l);
			inet_ntop(r->family, r->raddr, rr, sizeof rr);
			printf("%s %s %s:%u %s:%u ino=%llu uid=%u cookie=%llu acked=%llu recv=%llu full=%u\n",
			       r->family == 10 ? "v6" : "v4", r->state < 13 ? st[r->state] : "?", l, r->lport, rr, r->rport,
			       (unsigned long long)r->inode, r->uid, (unsigned long long)r->cookie,
			       (unsigned long long)r->bytes_acked, (unsigned long long)r->bytes_received, r->full);
		}
		fprintf(stderr, "%zd bytes, %zd records, rem %zd\n", n, n / 80, n % 80);
		return 0;
	}
	int N = argc > 2 ? atoi(argv[2]) : 50;
	memset(buf, 0, cap);           /* fault the buffer in before timing */
	readall(argv[1]);              /* warm-up */
	struct rusage a, b; getrusage(RUSAGE_SELF, &a);
	double t0 = now(), mn = 1e9, mx = 0; ssize_t n = 0;
	for (int i = 0; i < N; i++) {
		double s = now(); n = readall(argv[1]); double d = now() - s;
		if (d < mn) mn = d; if (d > mx) mx = d;
	}
	double t1 = now(); getrusage(RUSAGE_SELF, &b);
	double u = tv(b.ru_utime) - tv(a.ru_utime), sy = tv(b.ru_stime) - tv(a.ru_stime);
	printf("iter: %d reads, mean %.3f ms/read (min %.3f max %.3f), %zd bytes/read = %zd records; CPU user %.3f + sys %.3f ms/read\n",
	       N, (t1 - t0) / N, mn, mx, n, n / 80, u / N, sy / N);
	return 0;
}
