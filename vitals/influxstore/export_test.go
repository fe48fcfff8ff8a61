package influxstore

// DaysFlux is the Flux path of DaysWithData, for the test that checks it
// against the InfluxQL one.
var DaysFlux = (*Store).daysFlux
