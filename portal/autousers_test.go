package portal

import (
	"fmt"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mobileid"
)

// autoPhones is how many more SIM users the tests have (manual: the
// benchmark approves each request as soon as their phone shows it): the
// benchmark's applicants.
const autoPhones = 64

// autoUsers are those users: +37368000000, ... with valid IDNPs.
func autoUsers() []mobileid.User {
	out := make([]mobileid.User, autoPhones)
	for i := range out {
		first := fmt.Sprintf("200300%06d", i)
		d, err := idn.CheckDigit(first)
		if err != nil {
			panic(err)
		}
		out[i] = mobileid.User{MSISDN: fmt.Sprintf("+373680%05d", i), GivenName: "Auto", Surname: fmt.Sprintf("User%05d", i),
			IDNP: first + string(d), Operator: "moldcell", Kind: "personal", KeyType: "p256"}
	}
	return out
}
