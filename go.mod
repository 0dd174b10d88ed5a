module svkit

go 1.22

require (
	github.com/google/renameio/v2 v2.0.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
