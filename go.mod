module github.com/hyperhq/hyper

go 1.26.8

require (
	github.com/cavaliergopher/cpio v1.0.1 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
