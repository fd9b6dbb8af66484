package engine

import (
	"fmt"
	"strings"
)

// Plural is "1 host", "3 hosts", "1 entry", "2 entries": messages count
// things in words that agree with the count.
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") && !strings.HasSuffix(word, "ey") {
		return fmt.Sprintf("%d %sies", n, word[:len(word)-1])
	}
	return fmt.Sprintf("%d %ss", n, word)
}
