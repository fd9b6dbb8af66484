package journal_test

// The journal checks entries through the kinds engine/kinds registers;
// linking it here lets this package's tests verify real entries.
import _ "github.com/discoterm/discoterm/engine/kinds"
