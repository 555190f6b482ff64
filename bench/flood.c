// flood: the benchmark's traffic generator. Sends COUNT UDP datagrams of SIZE payload bytes to
// 127.0.0.1:PORT with sendmmsg, 64 per call (or paced one by one with --rate).
//
//   flood COUNT SIZE [--port P] [--rate PPS] [--sndbuf BYTES]
//
// Every payload starts with a 64-bit sequence number and the CLOCK_REALTIME nanoseconds of its
// send (the sink uses them for latency). With an NFQUEUE rule on OUTPUT the socket's send buffer
// is what paces the flood: a queued packet keeps its memory charged to the sender until it has its
// verdict, so sendmmsg blocks while the consumer lags and nothing is lost. --sndbuf (SO_SNDBUF,
// which the kernel doubles) bounds the packets in flight: large datagrams need a smaller one, or
// more of them are in flight than a consumer's default netlink receive buffer holds (overruns).
// Prints one JSON line: {"sent":N,"errors":N,"start_ns":T,"end_ns":T} (CLOCK_MONOTONIC).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: flood COUNT SIZE [--port P] [--rate PPS]\n");
    return 2;
  }
  uint64_t count = strtoull(argv[1], NULL, 10);
  size_t size = strtoul(argv[2], NULL, 10);
  int port = 9999, sndbuf = 0;
  double rate = 0;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--sndbuf")) sndbuf = atoi(argv[i + 1]);
    else { fprintf(stderr, "flood: unknown option %s\n", argv[i]); return 2; }
  }
  if (size < 16) size = 16;

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("flood: socket"); return 1; }
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0) perror("flood: SO_SNDBUF");
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("flood: connect"); return 1; }

  static char payloads[BATCH][65536];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    memset(payloads[i], 0x5a, size);
    iov[i].iov_base = payloads[i];
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  uint64_t sent = 0, errors = 0, seq = 0;
  uint64_t start = now_ns(CLOCK_MONOTONIC);
  uint64_t interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (sent + errors < count) {
    unsigned n = interval ? 1 : (unsigned)(count - sent - errors < BATCH ? count - sent - errors : BATCH);
    if (interval) {
      next.tv_nsec += interval;
      while (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; next.tv_sec++; }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    uint64_t stamp = now_ns(CLOCK_REALTIME);
    for (unsigned i = 0; i < n; i++) {
      uint64_t s = seq + i;
      memcpy(payloads[i], &s, 8);
      memcpy(payloads[i] + 8, &stamp, 8);
    }
    int r = sendmmsg(fd, msgs, n, 0);
    if (r < 0) {
      // A packet the kernel refused (queue full, nothing bound): count it and go on.
      if (errno == EINTR) continue;
      errors++;
      seq++;
      continue;
    }
    sent += (unsigned)r;
    seq += (unsigned)r;
  }
  uint64_t end = now_ns(CLOCK_MONOTONIC);
  printf("{\"sent\":%llu,\"errors\":%llu,\"start_ns\":%llu,\"end_ns\":%llu}\n", (unsigned long long)sent,
         (unsigned long long)errors, (unsigned long long)start, (unsigned long long)end);
  return 0;
}
