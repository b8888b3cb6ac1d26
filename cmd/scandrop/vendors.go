package main

import (
	"fmt"
	"strings"

	"github.com/scandrop/scandrop/internal/vendortable"
)

// vendorUsage lists the vendors, from the table, for the usage text.
func vendorUsage() string {
	var b strings.Builder
	b.WriteString("\nVendors (a drop is the vendor's whose marker sits at the folder's root):\n")
	for _, e := range vendortable.All() {
		fmt.Fprintf(&b, "  %-10s %s\n", e.Name, e.Marker)
	}
	return b.String()
}
