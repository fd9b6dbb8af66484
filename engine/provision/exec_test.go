package provision

import "os/exec"

var execCommand = exec.Command
