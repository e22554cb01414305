// ANCHOR: connect
const socket = new WebSocket(`ws://${location.host}/ws`);
socket.onmessage = (event) => document.body.append(event.data, document.createElement("br"));
// ANCHOR_END: connect
// ANCHOR: send
socket.send(JSON.stringify({ x: 0.25, y: 0.5 }));
// ANCHOR_END: send
