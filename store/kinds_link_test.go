package store_test

// Appends are checked through the entry kinds engine/kinds registers in
// journal (every program that writes a store links them through the
// engine); linking it here lets the tests append real entries.
import _ "github.com/discoterm/discoterm/engine/kinds"
