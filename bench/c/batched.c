// Contender (b): the batched consumer, the ceiling. recvmmsg reads up to 64 messages a call into
// buffers of 64 KB + 4 KB; one VERDICT message per packet is appended to a send buffer and all of
// a call's verdicts go out in one sendto.
//
//   batched QUEUE COUNT [--drop]
//
// Same binding as classic.c (copy mode packet, GSO flag, NETLINK_NO_ENOBUFS).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define BATCH 64
#define SLOT (65536 + 4096)
#define VERDICT_ROOM 64 /* one VERDICT message: nlmsghdr + nfgenmsg + NFQA_VERDICT_HDR = 32 bytes */

static char send_buf[BATCH * 8 * VERDICT_ROOM];
static size_t send_len;
static unsigned long long seen;
static int verdict = NF_ACCEPT;
static struct mnl_socket *nl;

static void flush_verdicts(void) {
  if (!send_len) return;
  if (mnl_socket_sendto(nl, send_buf, send_len) < 0) {
    perror("batched: sendto");
    exit(EXIT_FAILURE);
  }
  send_len = 0;
}

static int queue_cb(const struct nlmsghdr *nlh, void *data) {
  (void)data;
  struct nlattr *attr[NFQA_MAX + 1] = {0};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) return MNL_CB_OK;
  struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
  struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
  if (send_len + VERDICT_ROOM > sizeof send_buf) flush_verdicts();
  struct nlmsghdr *out = nfq_nlmsg_put(send_buf + send_len, NFQNL_MSG_VERDICT, ntohs(nfg->res_id));
  nfq_nlmsg_verdict_put(out, ntohl(ph->packet_id), verdict);
  send_len += NLMSG_ALIGN(out->nlmsg_len);
  seen++;
  return MNL_CB_OK;
}

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: batched QUEUE COUNT [--drop]\n");
    return 2;
  }
  unsigned int queue_num = atoi(argv[1]);
  unsigned long long count = strtoull(argv[2], NULL, 10);
  if (argc > 3 && !strcmp(argv[3], "--drop")) verdict = NF_DROP;

  char *bufs = malloc((size_t)BATCH * SLOT);
  if (!bufs) { perror("batched: allocate receive buffers"); return 1; }
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];

  nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == NULL) { perror("batched: mnl_socket_open"); return 1; }
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) { perror("batched: mnl_socket_bind"); return 1; }
  unsigned int portid = mnl_socket_get_portid(nl);
  int fd = mnl_socket_get_fd(nl);

  char cfg[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = nfq_nlmsg_put(cfg, NFQNL_MSG_CONFIG, queue_num);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) { perror("batched: bind queue"); return 1; }
  nlh = nfq_nlmsg_put(cfg, NFQNL_MSG_CONFIG, queue_num);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) { perror("batched: set params"); return 1; }
  int one = 1;
  mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(int));

  while (seen < count) {
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = bufs + (size_t)i * SLOT;
      iov[i].iov_len = SLOT;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == ENOBUFS || errno == EINTR) continue;
      perror("batched: recvmmsg");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (mnl_cb_run(iov[i].iov_base, msgs[i].msg_len, 0, portid, queue_cb, NULL) < 0 && errno != 0) {
        /* An NLMSG_ERROR for a verdict (stale id): note it and go on. */
      }
    }
    flush_verdicts();
  }
  mnl_socket_close(nl);
  return 0;
}
