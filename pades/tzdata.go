//go:build !(js && wasm)

package pades

import _ "time/tzdata" // Europe/Chisinau without /usr/share/zoneinfo (the stamp's date); not in the browser's verifier
