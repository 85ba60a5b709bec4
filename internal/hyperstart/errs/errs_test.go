package errs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestCodes(t *testing.T) {
	err := fmt.Errorf("creating container: %w", NotFound("no disk %s", "img0"))
	if Code(err) != protocol.CodeNotFound {
		t.Fatal(Code(err))
	}
	if Code(errors.New("plain")) != protocol.CodeInternal {
		t.Fatal("plain error is not internal")
	}
	if Code(WithCode(protocol.CodeConflict, err)) != protocol.CodeNotFound {
		t.Fatal("WithCode overrode an existing code")
	}
	pe := ToProtocol(err)
	if pe.Code != protocol.CodeNotFound || pe.Message != "creating container: no disk img0" {
		t.Fatalf("%+v", pe)
	}
	back := FromProtocol(&protocol.Error{Code: "weird", Message: "m"})
	if Code(back) != protocol.CodeInternal || back.Error() != "m" {
		t.Fatal(back)
	}
	if ToProtocol(nil) != nil || FromProtocol(nil) != nil {
		t.Fatal("nil")
	}
}
