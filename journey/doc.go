// Package journey is how an application writes journeys: durable per-contact programs that
// send email, sleep for days, wait for an event, branch on history and exit when an exit event
// arrives. Define one with MustDefine(Meta, func(Context, User) error); the engine enrolls
// contacts from ingested events and runs the function on Temporal, where every Context call
// is durable. Test journeys with the journeytest package.
package journey
