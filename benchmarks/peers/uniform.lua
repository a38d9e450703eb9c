-- OSRM profile for class-less networks: every highway way is driven at its maxspeed tag
-- (the harness writes our uniform speed there), both ways unless oneway=yes, no turn or
-- u-turn penalties, no traffic-signal delays: OSRM then uses the same speed as ours.
api_version = 4

function setup()
  return {
    properties = {
      weight_name = 'duration',
      max_speed_for_map_matching = 200 / 3.6,
      continue_straight_at_waypoint = false,
      use_turn_restrictions = false,
      left_hand_driving = false,
    },
    default_mode = mode.driving,
    default_speed = 60,
  }
end

function process_node(profile, node, result, relations)
end

function process_way(profile, way, result, relations)
  local highway = way:get_value_by_key('highway')
  if not highway then
    return
  end
  local speed = tonumber(way:get_value_by_key('maxspeed')) or profile.default_speed
  result.forward_mode = mode.driving
  result.forward_speed = speed
  if way:get_value_by_key('oneway') == 'yes' then
    result.backward_mode = mode.inaccessible
  else
    result.backward_mode = mode.driving
    result.backward_speed = speed
  end
end

function process_turn(profile, turn)
  turn.duration = 0
  turn.weight = 0
end

return {
  setup = setup,
  process_way = process_way,
  process_node = process_node,
  process_turn = process_turn,
}
