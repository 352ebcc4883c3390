package store

// ContactByIdentitySQL is the lookup's statement, for plan tests.
var ContactByIdentitySQL = contactByIdentitySQL
