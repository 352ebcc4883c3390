package worker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/journey"
)

// JourneySearchAttributes are the Keyword attributes every journey run carries, so operators
// find runs by journey, contact and status in the Web UI (`HogsendContactId="<uuid>"`).
var JourneySearchAttributes = []string{journey.SearchAttrJourneyID, journey.SearchAttrContactID, journey.SearchAttrStatus}

// EnsureSearchAttributes checks the namespace for the journey search attributes and registers
// those missing (`hogsend dev` registers them at start; a production cluster needs operator
// rights here, or `temporal operator search-attribute create` run once). Without them every
// journey start would be refused.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	if namespace == "" {
		namespace = "default"
	}
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range JourneySearchAttributes {
		t, ok := have.GetCustomAttributes()[name]
		if !ok {
			missing[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		} else if t != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			return fmt.Errorf("search attribute %s of namespace %s is %s; journeys need Keyword", name, namespace, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("namespace %s lacks the search attributes %s and registering them failed (run `temporal operator search-attribute create --namespace %s --name <name> --type Keyword` for each): %w",
			namespace, strings.Join(names, ", "), namespace, err)
	}
	return nil
}
