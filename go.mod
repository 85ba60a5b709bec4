module github.com/hyperhq/hyper

go 1.26.8
