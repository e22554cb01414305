// ANCHOR: connect
const socket = new WebSocket(`ws://${location.host}/ws`);
socket.onmessage = (event) => document.body.append(event.data, document.createElement("br"));
socket.onclose = (event) => console.log("socket closed, code", event.code);
// ANCHOR_END: connect
// ANCHOR: send
socket.send("hello, server");
// ANCHOR_END: send
