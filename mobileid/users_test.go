package mobileid

import (
	"errors"
	"testing"
)

func TestParseUsers(t *testing.T) {
	users, err := ParseUsers([]byte(`{"users":[{"msisdn":"0037369123456","given_name":"Ion","surname":"Popa","idnp":"2004005000014","kind":"professional","organization":"Exemplu SRL","idno":"1003600000014"}]}`))
	if err == nil {
		t.Fatalf("bad IDNO accepted: %+v", users)
	}
	for _, bad := range []string{`{"users":[{"msisdn":"123"}]}`, `{"users":[{"msisdn":"+37369123456","given_name":"A","surname":"B","idnp":"2004005000014","behaviour":"fly"}]}`, `{"x":1}`, `[`} {
		if _, err := ParseUsers([]byte(bad)); !errors.Is(err, ErrUsersFile) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	u := ScriptedUsers()[0]
	users, err = ParseUsers([]byte(`{"users":[{"msisdn":"0037369123456","given_name":"Ion","surname":"Popa","idnp":"` + u.IDNP + `","pin2":"54321"}]}`))
	if err != nil || users[0].MSISDN != "+37369123456" || users[0].PIN1 != DefaultPIN1 || users[0].Behaviour != Manual || users[0].KeyType != "p256" {
		t.Fatalf("%+v %v", users, err)
	}
}
