// Contender (g): go-nfqueue (github.com/florianl/go-nfqueue) verdicting COUNT packets of QUEUE.
//
//	go-nfqueue QUEUE COUNT [--drop]
//
// Binds QUEUE with copy mode packet, gives every packet the verdict (accept, or drop with --drop)
// from its callback and exits once COUNT packets have their verdict.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/florianl/go-nfqueue/v2"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-nfqueue QUEUE COUNT [--drop]")
		os.Exit(2)
	}
	queue, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "QUEUE must be a number")
		os.Exit(2)
	}
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "COUNT must be a number")
		os.Exit(2)
	}
	verdict := nfqueue.NfAccept
	if len(os.Args) > 3 && os.Args[3] == "--drop" {
		verdict = nfqueue.NfDrop
	}

	config := nfqueue.Config{
		NfQueue:      uint16(queue),
		MaxPacketLen: 0xFFFF,
		MaxQueueLen:  1024,
		Copymode:     nfqueue.NfQnlCopyPacket,
		WriteTimeout: 100 * time.Millisecond,
	}
	nf, err := nfqueue.Open(&config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-nfqueue: open:", err)
		os.Exit(1)
	}
	defer nf.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := 0
	onPacket := func(a nfqueue.Attribute) int {
		if err := nf.SetVerdict(*a.PacketID, verdict); err != nil {
			fmt.Fprintln(os.Stderr, "go-nfqueue: verdict:", err)
		}
		seen++
		if seen >= count {
			cancel()
		}
		return 0
	}
	onError := func(e error) int {
		// Overruns (ENOBUFS) and the like: keep reading.
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, onPacket, onError); err != nil {
		fmt.Fprintln(os.Stderr, "go-nfqueue: register:", err)
		os.Exit(1)
	}
	<-ctx.Done()
}
