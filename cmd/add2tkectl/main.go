// Command add2tkectl joins an on-premises host to a managed Kubernetes cluster.
package main

import (
	"os"

	"github.com/add2tkectl/add2tkectl/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
