module svkit

go 1.26.0

require golang.org/x/sys v0.49.0

require github.com/google/renameio/v2 v2.0.2 // indirect
