// Package e2e holds Hyper's end-to-end tests: a real hyperd process, driven
// through the real hyperctl binary and the Go client, booting real VMs.
package e2e
