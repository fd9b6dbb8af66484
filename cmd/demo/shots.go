package main

import "fmt"

// screenshots is filled in once the console's keys are settled.
func (d *demo) screenshots(out string) error {
	return fmt.Errorf("not yet")
}
