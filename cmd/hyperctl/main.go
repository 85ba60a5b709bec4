// Package main is hyperctl, Hyper's command line: it runs docker images in light
// VMs through hyperd, with docker's verbs and flags.
//
//	hyperctl run -it --rm busybox sh
//	hyperctl ps -a
//	hyperctl images
//
// The commands live in internal/cli.
package main

import (
	"os"

	"github.com/hyperhq/hyper/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
