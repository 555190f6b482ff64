// sink: counts the UDP datagrams that reach PORT (the packets a contender accepted).
//
//   sink [--port P] [--count N] [--latency]
//
// Prints "ready" once bound, then reads with recvmmsg until N datagrams arrived (or SIGTERM /
// SIGINT), and prints one JSON line: {"received":N,"first_ns":T,"last_ns":T} (CLOCK_MONOTONIC
// at the reads that returned the first and the last datagram). With --latency it also reports
// the percentiles of arrival - send: the arrival is the kernel's receive timestamp
// (SO_TIMESTAMPNS, taken when loopback hands the packet over, i.e. just after the verdict), the
// send time is the CLOCK_REALTIME stamp the flood wrote in the payload.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 2048

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int port = 9999, latency = 0;
  uint64_t count = UINT64_MAX;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--latency")) latency = 1;
    else { fprintf(stderr, "sink: unknown option %s\n", argv[i]); return 2; }
  }
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("sink: socket"); return 1; }
  int rcvbuf = 64 << 20, one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (latency) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("sink: bind"); return 1; }
  printf("ready\n");
  fflush(stdout);

  static char bufs[BATCH][SLOT];
  static char ctrl[BATCH][256];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  uint64_t *lat = NULL;
  size_t lat_len = 0, lat_cap = 0;
  uint64_t received = 0, first = 0, last = 0;
  while (!stop && received < count) {
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = SLOT;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = ctrl[i];
      msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("sink: recvmmsg");
      break;
    }
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    if (!received) first = t;
    last = t;
    received += (unsigned)n;
    if (!latency) continue;
    uint64_t fallback = now_ns(CLOCK_REALTIME);
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len < 16) continue;
      uint64_t sent_at, arrived = fallback;
      memcpy(&sent_at, bufs[i] + 8, 8);
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
          struct timespec ts;
          memcpy(&ts, CMSG_DATA(c), sizeof ts);
          arrived = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
      }
      if (lat_len == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) { perror("sink: realloc"); return 1; }
      }
      lat[lat_len++] = arrived > sent_at ? arrived - sent_at : 0;
    }
  }
  printf("{\"received\":%llu,\"first_ns\":%llu,\"last_ns\":%llu", (unsigned long long)received,
         (unsigned long long)first, (unsigned long long)last);
  if (latency && lat_len) {
    // The same percentiles without the first fifth of the packets (a JIT-compiled consumer is
    // still warming up then): what a long-running consumer sees.
    size_t skip = lat_len / 5, steady_len = lat_len - skip;
    uint64_t *steady = malloc(steady_len * sizeof *steady);
    if (!steady) { perror("sink: malloc"); return 1; }
    memcpy(steady, lat + skip, steady_len * sizeof *steady);
    qsort(steady, steady_len, sizeof *steady, cmp_u64);
    printf(",\"steady_latency_ns\":{\"n\":%zu,\"p50\":%llu,\"p99\":%llu,\"max\":%llu}", steady_len,
           (unsigned long long)steady[steady_len / 2], (unsigned long long)steady[steady_len * 99 / 100],
           (unsigned long long)steady[steady_len - 1]);
    free(steady);
    qsort(lat, lat_len, sizeof *lat, cmp_u64);
    printf(",\"latency_ns\":{\"n\":%zu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu}", lat_len,
           (unsigned long long)lat[lat_len / 2], (unsigned long long)lat[lat_len * 9 / 10],
           (unsigned long long)lat[lat_len * 99 / 100], (unsigned long long)lat[lat_len - 1]);
  }
  printf("}\n");
  return 0;
}
