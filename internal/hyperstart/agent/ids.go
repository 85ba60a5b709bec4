package agent

import (
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
)

// MaxIDLen bounds container ids, exec ids and disk serials.
const MaxIDLen = 128

// ValidateID checks an identifier used in paths and mount options: 1 to
// MaxIDLen characters from [A-Za-z0-9_.-], not starting with '.' or '-'.
func ValidateID(kind, id string) error {
	if id == "" {
		return errs.Invalid("empty %s", kind)
	}
	if len(id) > MaxIDLen {
		return errs.Invalid("%s too long (%d > %d)", kind, len(id), MaxIDLen)
	}
	if id[0] == '.' || id[0] == '-' {
		return errs.Invalid("invalid %s %q: must not start with %q", kind, id, id[0])
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return errs.Invalid("invalid %s %q: character %q not allowed", kind, id, c)
		}
	}
	return nil
}
