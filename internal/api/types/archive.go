package types

import (
	"os"
	"time"
)

// PathStatHeader is the response header of the archive endpoints carrying
// the PathStat of the path, base64-encoded JSON (docker's name).
const PathStatHeader = "X-Docker-Container-Path-Stat"

// PathStat is the stat of a path in a container, shaped like docker's
// ContainerPathStat.
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// Change kinds, as docker's.
const (
	ChangeModify = 0
	ChangeAdd    = 1
	ChangeDelete = 2
)

// Change is one changed path of a container's writable layer.
type Change struct {
	Path string `json:"Path"`
	Kind int    `json:"Kind"`
}

// ArchiveOptions tune a PUT of an archive.
type ArchiveOptions struct {
	CopyUIDGID           bool // keep the archive's owners (cp -a)
	NoOverwriteDirNonDir bool
}

// CommitOptions name and describe a committed image.
type CommitOptions struct {
	Repo    string   // REPO[:TAG], required
	Author  string   // -a
	Comment string   // -m
	Changes []string // -c: Dockerfile-like CMD, ENV, ...
}
