package aholo

import "github.com/scandrop/scandrop/vendors/internal/stall"

// DefaultStallTimeout bounds how long a connection may move nothing.
const DefaultStallTimeout = stall.DefaultTimeout
