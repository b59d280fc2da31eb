//go:build tools

// Package tools pins the conduit and indexer versions that algo-tracer's native LocalNet builds.
// It is never compiled on its own: `go build <pkg>` inside this module uses these requirements.
package tools

import (
	_ "github.com/algorand/conduit/cmd/conduit"
	_ "github.com/algorand/indexer/v3/cmd/algorand-indexer"
)
