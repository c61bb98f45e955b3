// Shows how many characters are left in the guestbook message.
const message = document.getElementById("message");
const counter = document.getElementById("counter");
if (message && counter) {
  const update = () => { counter.textContent = `${280 - message.value.length} left`; };
  message.addEventListener("input", update);
  update();
}
