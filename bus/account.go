package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// UpdateAccount hands the running server at url a new JWT of account (its
// public key), as the system-account user userJWT with seed, and returns
// once the server has taken it: from then on its revocations refuse new
// connections and close the connections already open. The user is
// handed over in memory, never as a file.
func UpdateAccount(ctx context.Context, url, userJWT, seed, account, accountJWT string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	nc, err := nats.Connect(url, nats.Name("razar-identity"), nats.UserJWTAndSeed(userJWT, seed), nats.MaxReconnects(0))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s as the system account: %w", RedactURL(url), err)
	}
	defer nc.Close()
	m, err := nc.RequestWithContext(ctx, AccountUpdateSubject(account), []byte(accountJWT))
	if err != nil {
		return fmt.Errorf("the server at %s did not take the account update: %w", RedactURL(url), err)
	}
	var rep struct {
		Data *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"data"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return fmt.Errorf("the server's answer to the account update: %w", err)
	}
	switch {
	case rep.Error != nil:
		return fmt.Errorf("the server refused the account update: %s", rep.Error.Description)
	case rep.Data == nil || rep.Data.Code != 200:
		return errors.New("the server did not confirm the account update")
	}
	return nil
}
