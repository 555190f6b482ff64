// Contender (a): the classic consumer, as libnetfilter_queue's examples/nf-queue.c: libmnl socket,
// one recv and one sendto (one VERDICT message) per packet.
//
//   classic QUEUE COUNT [--drop]
//
// Binds QUEUE with copy mode packet and the GSO flag, sets NETLINK_NO_ENOBUFS as the example
// does, gives every packet the verdict (accept, or drop with --drop) and exits after COUNT.
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static struct mnl_socket *nl;
static unsigned long long seen;
static int verdict = NF_ACCEPT;

static void send_verdict(int queue_num, uint32_t id) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, queue_num);
  nfq_nlmsg_verdict_put(nlh, id, verdict);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    perror("classic: mnl_socket_sendto");
    exit(EXIT_FAILURE);
  }
}

static int queue_cb(const struct nlmsghdr *nlh, void *data) {
  (void)data;
  struct nlattr *attr[NFQA_MAX + 1] = {0};
  if (nfq_nlmsg_parse(nlh, attr) < 0) {
    perror("classic: problems parsing");
    return MNL_CB_ERROR;
  }
  struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
  if (attr[NFQA_PACKET_HDR] == NULL) {
    fputs("classic: metaheader not set\n", stderr);
    return MNL_CB_ERROR;
  }
  struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
  send_verdict(ntohs(nfg->res_id), ntohl(ph->packet_id));
  seen++;
  return MNL_CB_OK;
}

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: classic QUEUE COUNT [--drop]\n");
    return 2;
  }
  unsigned int queue_num = atoi(argv[1]);
  unsigned long long count = strtoull(argv[2], NULL, 10);
  if (argc > 3 && !strcmp(argv[3], "--drop")) verdict = NF_DROP;

  // As the example: room for a 64 KB GSO packet plus the attributes.
  size_t sizeof_buf = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
  char *buf = malloc(sizeof_buf);
  if (!buf) { perror("classic: allocate receive buffer"); return 1; }

  nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == NULL) { perror("classic: mnl_socket_open"); return 1; }
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) { perror("classic: mnl_socket_bind"); return 1; }
  unsigned int portid = mnl_socket_get_portid(nl);

  struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) { perror("classic: bind queue"); return 1; }

  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) { perror("classic: set params"); return 1; }

  int one = 1;
  mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(int));

  while (seen < count) {
    int ret = mnl_socket_recvfrom(nl, buf, sizeof_buf);
    if (ret == -1) {
      if (errno == ENOBUFS || errno == EINTR) continue;
      perror("classic: mnl_socket_recvfrom");
      return 1;
    }
    ret = mnl_cb_run(buf, ret, 0, portid, queue_cb, NULL);
    if (ret < 0) {
      perror("classic: mnl_cb_run");
      return 1;
    }
  }
  mnl_socket_close(nl);
  return 0;
}
